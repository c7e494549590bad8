"""The SDK's side of runs: connecting to Temporal, starting and awaiting workflows, mapping errors.

`kaptain.model.models.Model.build` and `Model.train` delegate here. Only `temporalio`, `pydantic`
and `cryptography` are needed (the workflows' contracts travel as pydantic models); ``boto3`` is
imported lazily, only for ``s3://`` storage.
"""
