from factory.django import DjangoModelFactory

from audit.models import AccessAction, AccessLog, AuditSource, CommandRun


class AccessLogFactory(DjangoModelFactory):
    class Meta:
        model = AccessLog

    username = "someone"
    action = AccessAction.VIEW
    path = "/members/1/"


class CommandRunFactory(DjangoModelFactory):
    class Meta:
        model = CommandRun

    command = "seed"
    source = AuditSource.SEED
