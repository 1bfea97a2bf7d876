import 'uplot/dist/uPlot.min.css';
import './base.css';
import './experiments.css';
import './pipelines.css';
import './pipelines-panel.css';
import './models.css';
import './deployments.css';
import './monitoring.css';
