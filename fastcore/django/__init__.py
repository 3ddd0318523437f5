"""fastcore for Django: list ``"fastcore.django"`` first in INSTALLED_APPS and
``manage.py runserver`` serves through fastcore, with runserver's own options,
checks, autoreloader, static files and request log (see
``management/commands/runserver.py``). ``FASTCORE_DISABLE=1`` in the
environment runs Django's own server instead."""
