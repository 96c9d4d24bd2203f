"""The ip2a package defines no tables. This module exists so that Django sends ip2a its post_migrate
signal (Django skips apps without a models module), which re-syncs the roles after every migrate."""
