"""Locust load-test scenarios (DOMAIN.md §10). The load-testing issue fills in the user types and mixes;
until then this checks that the portal answers its probes under load."""

from locust import HttpUser, between, task


class ProbeUser(HttpUser):
    wait_time = between(1, 3)

    @task
    def healthz(self):
        self.client.get("/healthz")
