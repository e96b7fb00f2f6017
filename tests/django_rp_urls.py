"""The URLconf of the interop tests' Django project (tests/django_rp.py): mozilla-django-oidc's
views under `/oidc/`, python-social-auth's under `/social/`, and one page behind a sign-in.
Imported by Django once it is configured."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path


@login_required
def private(request: HttpRequest) -> HttpResponse:
    """A page only a signed-in person sees: who Django thinks they are."""
    return JsonResponse({"username": request.user.get_username(), "email": request.user.email})


urlpatterns = [
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("social/", include("social_django.urls", namespace="social")),
    path("private/", private),
]
