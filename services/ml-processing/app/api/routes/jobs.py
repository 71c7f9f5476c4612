"""Training jobs started by POST /models/train."""

from fastapi import APIRouter, HTTPException, status

from app.api.deps import BackendsDep
from app.schemas import JobPublic

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobPublic)
async def read_job(job_id: str, backends: BackendsDep) -> dict:
    """queued, running, succeeded (with version and metrics) or failed (with the reason)."""
    job = backends.jobs.get(job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no training job {job_id} here")
    return job.public()
