using Automations.Persistence;
using Automations.ServiceDefaults;

namespace Automations.Rules;

public static class Program
{
    public static Task Main(string[] args) => AutomationsService.RunAsync(Build(args));

    public static WebApplication Build(string[] args) => AutomationsService.Build(args, "automations-rules", b => { b.AddMigrateOnStart(); b.AddRules(); });
}
