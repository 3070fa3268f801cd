import os
import stat

from constitutional.calls.cache import ReplyCache


def test_the_reply_cache_directory_is_made_private_to_the_user(tmp_path):
    directory = tmp_path / "new" / "cache"
    umask = os.umask(0o022)  # the usual umask, under which a plain mkdir is readable by everyone
    try:
        ReplyCache(directory).close()
    finally:
        os.umask(umask)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
