"""`python -m kaptain.cluster.builder <kaniko flags>`: the local Kaniko executor."""

from kaptain.cluster.builder.main import main

raise SystemExit(main())
