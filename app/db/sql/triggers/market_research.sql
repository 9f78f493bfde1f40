-- updated_at follows every UPDATE. Revision 0002.

CREATE TRIGGER trg_market_research_updated_at BEFORE UPDATE ON public.market_research
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
