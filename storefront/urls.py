from django.urls import path

from . import views

app_name = "storefront"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("wallet/", views.WalletView.as_view(), name="wallet"),
    path("wallet/topup/", views.TopupView.as_view(), name="topup"),
    path("wallet/history/", views.TopupHistoryView.as_view(), name="topup-history"),
    path("wallet/topups/<uuid:public_id>/", views.TopupDetailView.as_view(), name="topup-detail"),
    path(
        "wallet/topups/<uuid:public_id>/status/",
        views.TopupStatusView.as_view(),
        name="topup-status",
    ),
    path(
        "wallet/topups/<uuid:public_id>/receipt/",
        views.TopupReceiptView.as_view(),
        name="topup-receipt",
    ),
]
