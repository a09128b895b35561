"""Activities that talk to AWS KMS (moto locally)."""

from __future__ import annotations

import base64

from temporalio import activity

from portal.verify.kms import VerifyKms


class KmsActivities:
    """Activities sharing the worker's KMS client.

    Args:
        kms: KMS client of Verify's data keys.
    """

    def __init__(self, kms: VerifyKms) -> None:
        self._kms = kms

    @activity.defn
    async def generate_data_key(self, purpose: str) -> str:
        """Create a data key for `purpose` and return only its wrapped form, base64-encoded.

        The plaintext KMS returns alongside is dropped here, so it never
        reaches Temporal history; workers unwrap the key when they use it.
        """
        wrapped = await self._kms.generate_data_key(purpose)
        activity.logger.info("data key generated purpose=%s", purpose)
        return base64.b64encode(wrapped).decode()
