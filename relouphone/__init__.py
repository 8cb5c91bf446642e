"""relouphone: a decoy phone number that answers pushy senders with a delayed SMS."""

__version__ = "0.1.0"
