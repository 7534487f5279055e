using Automations.ServiceDefaults.Http;
using Automations.Persistence.Writes;
using Automations.Rules.Matching;
using Automations.Rules.Runs;
using Automations.ServiceDefaults;
using MassTransit;

namespace Automations.Rules;

public static class Extensions
{
    public const string Schema = "rules";

    public static IHostApplicationBuilder AddRules(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHttpInput();
        builder.Services.Configure<RulesOptions>(builder.Configuration.GetSection("Rules"));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<AutomationCache>();
        builder.Services.AddSingleton<RunMetrics>();
        builder.Services.AddHostedService<InboxSweeper>();
        // Each replica needs its own copy of AutomationsChanged: a temporary endpoint named per instance.
        var instanceId = builder.Configuration["Rules:InstanceId"] ?? $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..8]}";
        builder.AddAutomationsBus(x =>
        {
            x.AddConfigureEndpointsCallback((_, _, cfg) => cfg.UseConsumerRetry());
            x.AddConsumer<ArtifactEventConsumer>().Endpoint(e => e.Name = ArtifactEventConsumer.Name);
            x.AddConsumer<RunOutcomeConsumer>().Endpoint(e => e.Name = RunOutcomeConsumer.Name);
            x.AddConsumer<AutomationsChangedConsumer>().Endpoint(e =>
            {
                e.InstanceId = instanceId;
                e.Temporary = true;
            });
        });
        builder.Services.AddWrites(Schema);
        return builder;
    }

    public static WebApplication MapRules(this WebApplication app)
    {
        app.UseHttpInput();
        return app;
    }
}
