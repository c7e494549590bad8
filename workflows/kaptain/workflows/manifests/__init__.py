"""Pure, deterministic builders of the Kubernetes objects a run creates: one module per kind.

Workflows call them (they are plain functions over the run's input, so replay computes the same
objects), and pass the manifests to the generic create activity; they appear in the run's history,
which makes the UI show exactly what was submitted. Secret manifests are the exception: their data
is only known to the activity that opens the sealed credentials (`kaptain.activities`), which
calls `secret.secret_manifest` itself.
"""
