"""The "Researchers" group: what a staff account needs to run its own studies in the admin.

Model permissions only; which studies a researcher sees is decided per study from its owners and
collaborators (webapp/studies/rules.py).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Researchers"
PERMISSIONS = [
    ("studies", "add_study"), ("studies", "view_study"), ("studies", "change_study"),
    ("studies", "monitor_study"), ("studies", "export_study"),
    ("studies", "view_participant"), ("studies", "delete_participant"),
    ("studies", "view_condition"), ("studies", "add_condition"), ("studies", "change_condition"),
    ("studies", "delete_condition"),
    ("play", "view_trial"),
    ("policies", "view_registeredpolicy"),
]


def add_group(apps, schema_editor):
    # Permissions are normally created after all migrations ran; create them now to refer to them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, codename in PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("studies", "0002_study_workflow"),
        ("play", "0001_initial"),
        ("policies", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(add_group, remove_group)]
