"""/api/jobs — the signed-in user's long jobs (exports, imports, reports): progress and results.

A job is its starter's alone: anyone else's job id answers 404, like one that does not exist.
``percent`` drives the progress bar; ``errors`` lists an import's bad rows
(``{row, column, message}``); ``result_url`` downloads an export's file. ``requeued`` is
true while a job the sweep queued again (its worker died, its queue entry was lost) waits
for its next attempt; ``message`` says why, and ``attempts`` counts the attempts so far.
"""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.api.common import ListArgs, id_path, page_of, paginate, sort_field
from core.errors import Conflict, NotFound
from core.ledgers import XLSX, percent
from core.models import JobRun
from core.request import authenticated, current

blp = Blueprint("core_jobs", __name__, url_prefix="/api/jobs", description="后台任务 / Jobs")
STATES = ("queued", "running", "done", "failed")


class JobErrorSchema(Schema):
    row = fields.Integer(allow_none=True, metadata={"description": "表格中的行号"})
    column = fields.String(allow_none=True, metadata={"description": "列名"})
    message = fields.String()
    code = fields.String(metadata={"description": "机器可读的错误代码（如 too_many_rows：超过导入行数上限）；多数行错误没有"})


class JobSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "ledger_export 导出台账 | ledger_import 导入台账"})
    title = fields.String()
    state = fields.String(metadata={"description": "queued 排队中 | running 进行中 | done 已完成 | failed 失败"})
    total = fields.Integer()
    done = fields.Integer()
    percent = fields.Integer(metadata={"description": "进度百分比 (0–100)"})
    message = fields.String(allow_none=True)
    attempts = fields.Integer(metadata={"description": "已开始执行的次数（执行中断后会重新排队再试）"})
    requeued = fields.Boolean(metadata={"description": "执行中断或队列丢失后已重新排队，等待再次执行"})
    errors = fields.List(fields.Nested(JobErrorSchema))
    result_name = fields.String(allow_none=True)
    result_url = fields.String(allow_none=True, metadata={"description": "结果文件的下载地址"})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class JobListArgs(ListArgs):
    sort = sort_field({"id": None})
    state = fields.String(validate=validate.OneOf(STATES))
    kind = fields.String(validate=validate.Length(min=1, max=32))


def present(job: JobRun) -> dict:
    out = {k: getattr(job, k) for k in ("id", "kind", "title", "state", "total", "done", "message", "result_name",
                                        "created_at", "started_at", "finished_at")}
    out["errors"] = job.errors or []
    out["attempts"] = job.attempts or 0
    out["requeued"] = job.state == "queued" and bool(job.requeues)
    out["percent"] = percent(job)
    out["result_url"] = f"/api/jobs/{job.id}/result" if job.state == "done" and job.result_key else None
    return out


def _mine(job_id: str) -> JobRun:
    ctx = current()
    job = ctx.session.scalar(select(JobRun).where(JobRun.id == id_path(job_id), JobRun.user_id == ctx.user.id))
    if job is None:
        raise NotFound()
    return job


@blp.route("")
class Jobs(MethodView):
    @authenticated
    @blp.arguments(JobListArgs, location="query")
    @blp.response(200, page_of(JobSchema))
    def get(self, args):
        """Your jobs, newest first."""
        ctx = current()
        stmt = select(JobRun).where(JobRun.user_id == ctx.user.id)
        for key in ("state", "kind"):
            if args.get(key):
                stmt = stmt.where(getattr(JobRun, key) == args[key])
        page = paginate(ctx.session, stmt, args, JobRun.id, {"id": JobRun.id}, "-id")
        page["items"] = [present(j) for j in page["items"]]
        return page


@blp.route("/<job_id>")
class JobItem(MethodView):
    @authenticated
    @blp.response(200, JobSchema)
    def get(self, job_id):
        """State and progress of one of your jobs (poll it for the progress bar)."""
        return present(_mine(job_id))


@blp.route("/<job_id>/result")
class JobResult(MethodView):
    @authenticated
    @blp.response(200, {"type": "string", "format": "binary"}, content_type=XLSX, description="结果文件")
    def get(self, job_id):
        """Download the job's file (an export's .xlsx), streamed."""
        from flask import request
        from werkzeug.wsgi import wrap_file
        from core.api.ledgers import attachment
        from core.storage import CHUNK, storage
        job = _mine(job_id)
        if job.state != "done" or not job.result_key:
            raise Conflict("no_result", "任务尚未完成，或没有结果文件")
        try:
            f = storage().open(job.result_key)
        except FileNotFoundError:
            raise Conflict("result_gone", "结果文件已不存在，请重新导出") from None
        return Response(wrap_file(request.environ, f, CHUNK), mimetype=XLSX, direct_passthrough=True, headers={
            "Content-Disposition": attachment(job.result_name or "台账.xlsx", f"ledger-{job.id}.xlsx")})
