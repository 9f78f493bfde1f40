-- updated_at follows every UPDATE. Production's baseline (revision 0001).

CREATE TRIGGER trg_audience_profiles_updated_at BEFORE UPDATE ON public.audience_profiles
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
