using Automations.Api.Deliveries;
using Automations.Persistence.Outbox;
using Automations.ServiceDefaults;

namespace Automations.Api;

public static class Extensions
{
    public const string Schema = "control";

    public static IHostApplicationBuilder AddApi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi();
        builder.AddAutomationsBus();
        builder.Services.AddOutboxRelay(Schema);
        return builder;
    }

    public static WebApplication MapApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapOpenApi();
        app.MapDeliveries();
        return app;
    }
}
