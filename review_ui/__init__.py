"""The inspectors' and rule authors' web app."""
