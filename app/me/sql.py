"""The statement behind /v1/me."""

# Who the claims make the caller: current_mind_id() is the function the RLS
# policies use, so this is exactly what they see.
WHO_AM_I = (
    "SELECT m.id AS mind_id, m.slug AS mind_slug, m.display_name"
    " FROM public.minds m WHERE m.id = public.current_mind_id()"
)
