"""Upload generated dashboards to a running Grafana with grafana-client.

Kept thin on purpose (no Grafana can run where the tests run): make sure the folder exists,
then save each dashboard with ``overwrite`` so an older version with the same uid is replaced.
The API token comes from the environment (``GRAFANA_TOKEN``), never from a file in the repo.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

FOLDER_UID = "groundwatch"
FOLDER_TITLE = "groundwatch"
TOKEN_ENV = "GRAFANA_TOKEN"


class PushError(RuntimeError):
    """The push could not start or Grafana refused a dashboard; the message says which."""


@dataclass(slots=True)
class Pushed:
    uid: str
    title: str
    version: int | None
    url: str | None


def token_from_env(env: Mapping[str, str] = os.environ) -> str:
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        raise PushError(f"set {TOKEN_ENV} to a Grafana service-account token (Editor role)")
    return token


def ensure_folder(api: GrafanaApi, uid: str = FOLDER_UID, title: str = FOLDER_TITLE) -> str:
    for folder in api.folder.get_all_folders():
        if folder.get("uid") == uid:
            return uid
    api.folder.create_folder(title, uid=uid)
    return uid


def push(
    grafana_url: str, dashboards: Mapping[str, dict[str, Any]], token: str, folder: str = FOLDER_UID
) -> list[Pushed]:
    api = GrafanaApi.from_url(grafana_url, credential=token)
    folder_uid = ensure_folder(api, folder, folder)
    done = []
    for name, data in dashboards.items():
        body = {**data, "id": None}  # saved by uid: Grafana assigns its own numeric id
        try:
            reply = api.dashboard.update_dashboard(
                {
                    "dashboard": body,
                    "folderUid": folder_uid,
                    "overwrite": True,
                    "message": "groundwatch dashboards push",
                }
            )
        except GrafanaClientError as exc:
            raise PushError(f"{name}: Grafana refused the dashboard: {exc}") from exc
        done.append(Pushed(data["uid"], data["title"], reply.get("version"), reply.get("url")))
    return done
