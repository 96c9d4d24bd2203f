"""The default shared cache: Django's file-based cache, culled now and then instead of on every write.

Every worker reads and writes the same folder, so a value one worker stores is seen by all (a per-process
memory cache would not be). Django's FileBasedCache lists the whole folder on every set() to see whether it
holds MAX_ENTRIES yet; timed ad hoc here (not a recorded benchmark), a set() cost 1.5 ms with 300 entries
and 17 ms with 10,000, a get() 0.03 ms. The portal writes entries as it renders list and member pages, so
that listing would dominate its cost under load. FileCache looks at most once every CULL_SECONDS per process,
and only on one set() in CULL_EVERY, so the folder may overshoot MAX_ENTRIES by what the workers write in
that time before it is culled (a cull removes a random third, Django's rule). Redis (CACHE_URL) needs none of
this.
"""

import time

from django.core.cache.backends.filebased import FileBasedCache

CULL_EVERY = 50
CULL_SECONDS = 10


class FileCache(FileBasedCache):
    writes = 0
    looked = float("-inf")  # time.monotonic() of this process's last look at the folder

    def _cull(self):
        self.writes += 1
        if self.writes % CULL_EVERY:
            return
        now = time.monotonic()
        if now - self.looked < CULL_SECONDS:
            return
        self.looked = now
        super()._cull()
