using Automations.Persistence;
using Automations.ServiceDefaults;

namespace Automations.Rules;

public static class Program
{
    public static Task Main(string[] args) => Build(args).RunAsync();

    public static WebApplication Build(string[] args) => AutomationsService.Build(args, "automations-rules", b => { b.AddMigrateOnStart(); b.AddRules(); });
}
