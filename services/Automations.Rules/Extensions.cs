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
        builder.Services.Configure<RulesOptions>(builder.Configuration.GetSection("Rules"));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<AutomationCache>();
        builder.Services.AddSingleton<RunMetrics>();
        builder.Services.AddHostedService<InboxSweeper>();
        builder.AddAutomationsBus(x =>
        {
            x.AddConsumer<ArtifactEventConsumer, ArtifactEventConsumerDefinition>();
            x.AddConsumer<RunOutcomeConsumer, RunOutcomeConsumerDefinition>();
            x.AddConsumer<AutomationsChangedConsumer, AutomationsChangedConsumerDefinition>();
        });
        builder.Services.AddWrites(Schema);
        return builder;
    }
}
