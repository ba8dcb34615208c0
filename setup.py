# Everything is in pyproject.toml; scrapyd-deploy builds its egg with `python setup.py bdist_egg`.
from setuptools import setup

setup()
