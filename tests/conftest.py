import logging
import os
import tempfile

# NNI lists every experiment in ~/nni-experiments/.experiment (its home is read from HOME when
# NNI is imported): tests, and the CLI processes they start, use a throw-away home instead of the
# user's. Set before anything imports NNI.
os.environ["HOME"] = tempfile.mkdtemp(prefix="nas-sepconv-tests-home-")

import torch  # noqa: E402

# NNI stops its experiments again at interpreter exit and logs while doing so, after
# pytest has closed the captured streams; don't print those logging errors.
logging.raiseExceptions = False

# Tests train tiny networks: one intra-op thread avoids contention on 2 shared cores
# (measured 5-40x faster here than torch's default of 2). Set at import so that fixtures
# of every scope (module-scoped searches included) run with it.
torch.set_num_threads(1)
