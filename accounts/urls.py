from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("language/", views.language_set_view, name="language-set"),
    # --- Account settings and currency (helper 3) ---
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("currency/", views.currency_set_view, name="currency-set"),
]
