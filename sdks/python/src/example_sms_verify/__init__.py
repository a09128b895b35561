"""Client for the Verify API of the SMS developer portal."""

from example_sms_verify._version import __version__
from example_sms_verify.client import VerifyClient, VerifyError

__all__ = ["VerifyClient", "VerifyError", "__version__"]
