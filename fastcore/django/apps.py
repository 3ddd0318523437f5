from django.apps import AppConfig


class FastcoreConfig(AppConfig):
    name = "fastcore.django"
    label = "fastcore"
    verbose_name = "fastcore"
