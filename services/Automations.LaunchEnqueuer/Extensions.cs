using Automations.Persistence.Outbox;
using Automations.ServiceDefaults;

namespace Automations.LaunchEnqueuer;

public static class Extensions
{
    public const string Schema = "launch";

    public static IHostApplicationBuilder AddLaunchEnqueuer(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails();
        builder.AddAutomationsBus();
        builder.Services.AddOutboxRelay(Schema);
        return builder;
    }

    public static WebApplication MapLaunchEnqueuer(this WebApplication app)
    {
        app.UseExceptionHandler();
        return app;
    }
}
