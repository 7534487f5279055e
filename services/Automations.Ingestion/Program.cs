using Automations.Persistence;
using Automations.Ingestion.Events;
using Automations.ServiceDefaults;

namespace Automations.Ingestion;

public static class Program
{
    public static Task Main(string[] args) => AutomationsService.RunAsync(Build(args));

    public static WebApplication Build(string[] args) =>
        AutomationsService.Build(args, "automations-ingestion", b => { b.AddMigrateOnStart(); b.AddIngestion(); }, app => app.MapEvents());
}
