"""Participants never see Django's technical 404 page, not even under `make run` (DEBUG on): it
lists every URL pattern of the site.

With DEBUG off Django itself answers a 404 with templates/404.html; with DEBUG on this middleware
does the same, except under the admin, where a researcher may want the details. A view that raises
Http404 reaches `process_exception`. An address that matches no URL pattern never reaches a view:
its technical page is already a response when it gets here, told apart from a view's own 404 page
by the request never having been resolved.
"""

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.views.defaults import page_not_found


class FriendlyNotFoundMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 404 and request.resolver_match is None and self._replaces(request):
            return page_not_found(request, Http404())
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, Http404) and self._replaces(request):
            return page_not_found(request, exception)
        return None

    @staticmethod
    def _replaces(request) -> bool:
        return settings.DEBUG and not request.path.startswith(reverse("admin:index"))
