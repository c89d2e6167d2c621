"""Focus-drive tests; a package so that ``from drives.contract import DriveContract`` works from
every test folder (pytest puts ``tests/`` on ``sys.path`` for ``tests/conftest.py``)."""
