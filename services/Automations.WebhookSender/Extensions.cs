using Automations.Persistence.Outbox;
using Automations.ServiceDefaults;

namespace Automations.WebhookSender;

public static class Extensions
{
    public const string Schema = "delivery";

    public static IHostApplicationBuilder AddWebhookSender(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails();
        builder.AddAutomationsBus();
        builder.Services.AddOutboxRelay(Schema);
        return builder;
    }

    public static WebApplication MapWebhookSender(this WebApplication app)
    {
        app.UseExceptionHandler();
        return app;
    }
}
