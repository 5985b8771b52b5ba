from django.urls import path

from storefront.cache import cache_page_for_visitors as cached
from storefront.views import checkout, destinations, esims, help, renewals, wallet

app_name = "storefront"

urlpatterns = [
    # --- Home, search, destinations (storefront/views/destinations.py) ---
    path("", cached(destinations.HomeView.as_view()), name="home"),
    path("search/", destinations.SearchView.as_view(), name="search"),
    path("search/suggest/", cached(destinations.SuggestView.as_view()), name="search-suggest"),
    path("destinations/", cached(destinations.DestinationListView.as_view()), name="destinations"),
    path("countries/<str:code>/", cached(destinations.CountryView.as_view()), name="country"),
    path("regions/<slug:code>/", cached(destinations.RegionView.as_view()), name="region"),
    # --- Help, device checker, support requests (storefront/views/help.py) ---
    path("help/", cached(help.HelpView.as_view()), name="help"),
    path("devices/", cached(help.DeviceCheckView.as_view()), name="devices"),
    path("help/contact/", help.SupportRequestCreateView.as_view(), name="contact"),
    path("help/requests/", help.SupportRequestListView.as_view(), name="support-requests"),
    path(
        "help/requests/<uuid:public_id>/",
        help.SupportRequestDetailView.as_view(),
        name="support-request",
    ),
    # --- Wallet and top-ups (storefront/views/wallet.py) ---
    path("wallet/", wallet.WalletView.as_view(), name="wallet"),
    path("wallet/topup/", wallet.TopupView.as_view(), name="topup"),
    path("wallet/history/", wallet.TopupHistoryView.as_view(), name="topup-history"),
    path("wallet/topups/<uuid:public_id>/", wallet.TopupDetailView.as_view(), name="topup-detail"),
    path(
        "wallet/topups/<uuid:public_id>/status/",
        wallet.TopupStatusView.as_view(),
        name="topup-status",
    ),
    path(
        "wallet/topups/<uuid:public_id>/receipt/",
        wallet.TopupReceiptView.as_view(),
        name="topup-receipt",
    ),
    # --- Checkout, orders, receipts (storefront/views/checkout.py) ---
    path("plans/<slug:code>/", cached(checkout.PlanDetailView.as_view()), name="plan-detail"),
    path("checkout/<slug:code>/", checkout.CheckoutView.as_view(), name="checkout"),
    path("orders/", checkout.OrderListView.as_view(), name="orders"),
    path("orders/<uuid:public_id>/", checkout.OrderDetailView.as_view(), name="order-detail"),
    path(
        "orders/<uuid:public_id>/pay/wallet/",
        checkout.OrderPayWalletView.as_view(),
        name="order-pay-wallet",
    ),
    path("orders/<uuid:public_id>/pay/", checkout.OrderPayView.as_view(), name="order-pay"),
    path(
        "orders/<uuid:public_id>/status/",
        checkout.OrderStatusView.as_view(),
        name="order-status",
    ),
    path(
        "orders/<uuid:public_id>/receipt/",
        checkout.OrderReceiptView.as_view(),
        name="order-receipt",
    ),
    # --- Renewal, auto-renewal, plan change (storefront/views/renewals.py) ---
    path("esims/<str:iccid>/renew/", renewals.EsimRenewView.as_view(), name="esim-renew"),
    path(
        "esims/<str:iccid>/auto-renew/",
        renewals.EsimAutoRenewView.as_view(),
        name="esim-auto-renew",
    ),
    path("esims/<str:iccid>/change/", renewals.EsimChangeView.as_view(), name="esim-change"),
    # --- My eSIMs, refunds, top-up by card number, bound cards (storefront/views/esims.py) ---
    path("esims/", esims.EsimListView.as_view(), name="esims"),
    path("esims/<str:iccid>/", esims.EsimDetailView.as_view(), name="esim-detail"),
    path("esims/<str:iccid>/refund/", esims.EsimRefundView.as_view(), name="esim-refund"),
    path("topup-card/", esims.CardTopupView.as_view(), name="card-topup"),
    path("topup-card/buy/", esims.CardTopupBuyView.as_view(), name="card-topup-buy"),
    path("account/cards/", esims.CardListView.as_view(), name="cards"),
    path("account/cards/<int:pk>/delete/", esims.CardUnbindView.as_view(), name="card-unbind"),
]
