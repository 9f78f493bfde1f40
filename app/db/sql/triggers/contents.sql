-- updated_at follows every UPDATE (production's baseline, revision 0001)...
CREATE TRIGGER trg_contents_updated_at BEFORE UPDATE ON public.contents
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- ...except the search indexer's clearing of search_deferred, which is not an
-- edit: this trigger puts updated_at back when nothing else changed. BEFORE
-- triggers fire in name order, so `zz_` comes after set_updated_at()'s,
-- whatever production named that one. Revision 0008.
CREATE TRIGGER zz_contents_search_indexed_keeps_updated_at
    BEFORE UPDATE OF search_deferred ON public.contents
    FOR EACH ROW WHEN (OLD.search_deferred AND NOT NEW.search_deferred)
    EXECUTE FUNCTION creatoros_internal.search_indexed_keeps_updated_at();
