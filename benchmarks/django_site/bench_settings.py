"""The Django project compare.py serves with ``manage.py runserver``, Django's
own and fastcore's (``fastcore.django``; ``FASTCORE_DISABLE=1`` for Django's):
startproject's apps and middleware, one view and one static file."""

from pathlib import Path

HERE = Path(__file__).resolve().parent

SECRET_KEY = "benchmark-only"
DEBUG = True  # runserver serves static files only with DEBUG (or --insecure)
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "fastcore.django",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "bench_urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [HERE / "static"]
