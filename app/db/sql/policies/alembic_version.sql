-- Closed: RLS on and no policy, so no API role reads the schema's revision
-- here (/readyz asks public.creatoros_schema_revision()). Revision 0004.

ALTER TABLE public.alembic_version ENABLE ROW LEVEL SECURITY;
