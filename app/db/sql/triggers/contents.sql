-- updated_at follows every UPDATE (production's baseline, revision 0001)...
CREATE TRIGGER trg_contents_updated_at BEFORE UPDATE ON public.contents
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- ...and the search document follows the words: built now, or deferred to
-- the indexer when a tree write asks; search_deferred and search_document
-- are never the writer's; indexing is not an edit (updated_at put back).
-- BEFORE triggers fire in name order, so `zzz_` comes after set_updated_at()'s,
-- whatever production named that one. Revision 0009 (it replaced 0008's
-- zz_contents_search_indexed_keeps_updated_at); the id too since revision
-- 0011 (the document holds markers of it).
CREATE TRIGGER zzz_contents_search_document
    BEFORE INSERT OR UPDATE OF id, title, content, status, project_id, search_deferred, search_document
    ON public.contents
    FOR EACH ROW EXECUTE FUNCTION creatoros_internal.contents_search_document();

-- ...and every statement that changes nodes records them in their project's
-- revision of the transaction (statement-level, with transition tables: a
-- 133-node PUT is a few set-based statements). Revision 0012.
CREATE TRIGGER contents_revision_insert AFTER INSERT ON public.contents
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION creatoros_internal.record_content_revision();

CREATE TRIGGER contents_revision_update AFTER UPDATE ON public.contents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION creatoros_internal.record_content_revision();

CREATE TRIGGER contents_revision_delete AFTER DELETE ON public.contents
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION creatoros_internal.record_content_revision();
