"""The build backend: setuptools, minus its "Editable installation." notice.

The repository maps its top-level folders into one package (`package-dir`), so setuptools installs an
editable copy through a meta path finder and always prints an informational warning about it. The
notice carries no action for this layout (the `fincopilot` folder is the package itself), so a quiet
`pip install -e .` is kept quiet; every other setuptools warning still shows.
"""

import warnings

from setuptools.build_meta import *  # noqa: F403 - the PEP 517 hooks, unchanged
from setuptools.build_meta import __all__  # noqa: F401

warnings.filterwarnings("ignore", message="Editable installation", module="setuptools")
