import logging

# NNI stops its experiments again at interpreter exit and logs while doing so, after
# pytest has closed the captured streams; don't print those logging errors.
logging.raiseExceptions = False
