"""PepperRotationWorkflow: install a new version of Verify's code pepper, prune expired ones.

A Temporal schedule (`verify-pepper-rotation`) starts it at the interval set
by `PORTAL_VERIFY_PEPPER_ROTATION_SECONDS`. Only the KMS-wrapped key passes
through history; the plaintext exists only inside KMS and worker memory.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.kms import KmsActivities
    from activities.verify_store import InstallDataKeyInput, VerifyStoreActivities
    from portal.verify.workflow_models import PepperRotationInput, PepperRotationResult

__all__ = ["SCHEDULE_ID", "PepperRotationInput", "PepperRotationResult", "PepperRotationWorkflow"]

SCHEDULE_ID = "verify-pepper-rotation"
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=20)


@workflow.defn
class PepperRotationWorkflow:
    """Rotates one of Verify's data keys (the code pepper by default)."""

    @workflow.run
    async def run(self, params: PepperRotationInput) -> PepperRotationResult:
        workflow.logger.info(
            "key rotation started purpose=%s requested_by=%s", params.purpose, params.requested_by
        )

        # KMS creates the key; the activity returns only its wrapped form.
        wrapped = await workflow.execute_activity_method(
            KmsActivities.generate_data_key,
            params.purpose,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )

        # Older versions stay usable: sessions that stored codes under them
        # keep verifying until they expire.
        version = await workflow.execute_activity_method(
            VerifyStoreActivities.install_data_key,
            InstallDataKeyInput(purpose=params.purpose, wrapped_key_b64=wrapped),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RETRY,
        )

        # Versions whose every session has expired go, so a stolen wrapped key
        # ages out with them.
        pruned = await workflow.execute_activity_method(
            VerifyStoreActivities.prune_data_keys,
            params.purpose,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )

        workflow.logger.info(
            "key rotation finished purpose=%s version=%d pruned=%s", params.purpose, version, pruned
        )
        return PepperRotationResult(version=version, pruned=pruned)
