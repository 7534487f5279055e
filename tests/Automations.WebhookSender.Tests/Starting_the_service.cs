using System.Net;
using Automations.Testing;

namespace Automations.WebhookSender.Tests;

public class Starting_the_service(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    [Fact]
    public async Task Should_report_ready_with_a_real_database_and_broker()
    {
        await using var host = await ServiceHost.StartAsync(Automations.WebhookSender.Program.Build, env.ServiceConfiguration());
        using var response = await host.Client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
