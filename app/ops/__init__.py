"""The operator's side: the `creatoros` command and its admin tasks."""
