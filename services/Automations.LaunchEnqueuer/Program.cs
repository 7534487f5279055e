using Automations.Persistence;
using Automations.LaunchEnqueuer.Agent;
using Automations.ServiceDefaults;

namespace Automations.LaunchEnqueuer;

public static class Program
{
    public static Task Main(string[] args) => AutomationsService.RunAsync(Build(args));

    public static WebApplication Build(string[] args) =>
        AutomationsService.Build(args, "automations-launch-enqueuer", b => { b.AddMigrateOnStart(); b.AddLaunchEnqueuer(); }, app => app.MapAgentApi());
}
