from django.contrib import admin
from django.urls import include, path

from imagegen.api import contract, edits, image_files, metrics
from imagegen.api import views as api

urlpatterns = [
    path("v1/chat/completions", api.chat_completions, name="chat-completions"),
    path("v1/images/generations", api.image_generations, name="image-generations"),
    path("v1/images/edits", edits.image_edits, name="image-edits"),
    path("v1/models", api.list_models, name="models"),
    path("v1/styles", api.list_styles, name="styles"),
    path("v1/openapi.json", contract.document, name="openapi"),
    path("v1/health", api.health),
    path("health", api.health, name="health"),
    path("health/ready", api.ready, name="ready"),
    path("images/<str:token>.<str:ext>", image_files.serve_image, name="image"),
    path("metrics", metrics.serve_metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # By name, not by import: the playground is a layer above imagegen (see pyproject's import contracts).
    path("playground/", include("playground.urls")),
]

handler400 = "imagegen.api.errors.bad_request"
handler403 = "imagegen.api.errors.permission_denied"
handler404 = "imagegen.api.errors.not_found"
handler500 = "imagegen.api.errors.server_error"
