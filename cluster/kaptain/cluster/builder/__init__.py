"""The local Kaniko: builds a Dockerfile into an image without containers and pushes it.

Run as `python -m kaptain.cluster.builder <Kaniko executor flags>` (a pod whose image is
`gcr.io/kaniko-project/executor` runs exactly that, see `kaptain.cluster.images.mapping`).
Supported Dockerfile instructions: FROM (one stage), ARG, ENV, LABEL, WORKDIR, COPY/ADD of local
files, RUN of `pip install` commands, ENTRYPOINT, CMD, and USER/EXPOSE/VOLUME/STOPSIGNAL/MAINTAINER
as metadata. FROM a base image maps to a local Python runtime; packages are pip-installed into the
image only (`/.kaptain/site-packages/<n>`), and the result, one layer over the parent's, is pushed
to each `--destination` over the Registry v2 API. Output is a Kaniko-style log on stdout; exit
code 1 with "error building image: ..." on failure.
"""

from kaptain.cluster.builder.main import main

__all__ = ["main"]
