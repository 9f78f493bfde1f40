-- updated_at follows every UPDATE. Production's baseline (revision 0001).

CREATE TRIGGER trg_content_projects_updated_at BEFORE UPDATE ON public.content_projects
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
