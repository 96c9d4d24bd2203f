from ip2a.management.commands import integrity


class Command(integrity.Command):
    help = "Plan the automatic repairs of the integrity checks; a dry run unless --apply is given."
    repair_mode = True
