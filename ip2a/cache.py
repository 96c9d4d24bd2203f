"""The default shared cache: Django's file-based cache, culled now and then instead of on every write.

Every worker reads and writes the same folder, so a value one worker stores is seen by all (a per-process
memory cache would not be). Django's FileBasedCache lists the whole folder on every set() to see whether it
holds MAX_ENTRIES yet; timed ad hoc here (not a recorded benchmark), a set() cost 1.5 ms with 300 entries
and 17 ms with 10,000, a get() 0.03 ms. The portal writes an entry on the second view of a list page or a
member page, so that listing would dominate its cost under load. FileCache checks on every CULL_EVERY-th
set() of each process, so the folder may overshoot MAX_ENTRIES by about that many entries per worker before
it is culled. Redis (CACHE_URL) needs none of this.
"""

from django.core.cache.backends.filebased import FileBasedCache

CULL_EVERY = 50


class FileCache(FileBasedCache):
    writes = 0

    def _cull(self):
        self.writes += 1
        if self.writes % CULL_EVERY == 0:
            super()._cull()
