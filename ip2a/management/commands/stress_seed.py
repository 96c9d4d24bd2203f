from ip2a.management.commands import seed
from ip2a.seed.volumes import STRESS


class Command(seed.Command):
    help = "The same as `seed --stress` (same flags): 10,000 members, ~250,000 jobs, 150,000 attachments."
    default_mode = STRESS
