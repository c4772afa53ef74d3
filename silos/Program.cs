using Orchestrator.Silo.Hosting;

// "probe": the container health check (see Probe), before anything of the silo is built.
if (args is ["probe", ..])
{
    return await Probe.RunAsync(args);
}
SiloApp.Build(args).Run();
return 0;
